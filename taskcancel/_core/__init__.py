"""The pure core: the model, the rules, the error catalogue and the exceptions.

Standard library and attrs only; no I/O, no clock reads, no randomness (time and ids come
in as arguments). Every other layer builds on it; it imports none of them.
"""
