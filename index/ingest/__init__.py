"""Articles in: seed files and the web, cleaned (pinyin stripped, OpenCC to Simplified) and split into passages."""
