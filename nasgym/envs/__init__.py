"""nasgym environments (registered in nasgym/registration.py)."""
