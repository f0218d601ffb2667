"""Documents in: readers, cleaning, dates, chunking and embedding, the Chroma store."""
