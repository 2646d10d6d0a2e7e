// WebSocket module. See DESIGN.md.
