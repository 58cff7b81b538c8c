"""atdata's own flows driven with this project's clients (``make test-atdata``)."""
