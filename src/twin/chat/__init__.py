"""`twin chat`: talk to a run (or an untuned base) in the terminal."""
