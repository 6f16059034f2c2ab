"""The paper's experiments and the demos, as importable functions returning results."""
