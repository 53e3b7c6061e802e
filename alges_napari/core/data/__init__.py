"""Data: class schemas, mask formats, frame sources and synthetic clips (no learning here)."""
