"""cadenza: LLM-based symbolic music generation."""
