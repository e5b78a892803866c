"""Calendar providers: one interface (base.py), four implementations."""
