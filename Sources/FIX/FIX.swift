// FIX module. See DESIGN.md.
