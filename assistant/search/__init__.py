"""Questions to ranked passages: dense + keyword retrieval, fused, with dates and recency."""
