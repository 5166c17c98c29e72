"""Questions out: the prepared question, both legs fused, dates, answerability, quotes."""
