"""Delivering messages whose time has come: the TTL reaper, pulled delivery (TAKE, ACK, NACK) and
webhooks."""
