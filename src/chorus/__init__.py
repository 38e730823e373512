"""Chorus: collective complaint coordination."""
