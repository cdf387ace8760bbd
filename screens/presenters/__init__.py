"""Plain Python that decides what the screens show (formatting, table models, caches, choices), kept free of Textual so it is tested without an app."""
