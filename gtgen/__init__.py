"""gtgen: games of generative models that learn from each other's synthetic data."""
