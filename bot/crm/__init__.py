"""CRM providers behind one small interface, and the sync that stores what they return."""
