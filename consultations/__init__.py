"""Framework-free domain of the work ability consultation bot."""
