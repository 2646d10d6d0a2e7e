// Broker module. See DESIGN.md.
