"""Card flows (Universal Actions) and the Adaptive Cards they show."""
