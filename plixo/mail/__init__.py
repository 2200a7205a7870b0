"""The finance inbox: what payers write back, and how Plixo understands it."""
