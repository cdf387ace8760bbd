"""Dialogs shown over any screen: confirm, pick or type a folder, the two folders of Label a folder."""
