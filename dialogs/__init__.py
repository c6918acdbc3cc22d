"""Conversation flows (botbuilder-dialogs) and the Adaptive Cards they show."""
