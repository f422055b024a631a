"""How a table row becomes a vector a network can read, and back."""
