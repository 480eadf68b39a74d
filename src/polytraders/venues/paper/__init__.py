"""Paper venue: simulated matching against the recorded or live book."""
