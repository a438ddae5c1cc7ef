"""Identity proofing: real name (loa:2) from an authoritative source, real person (loa:3) by live face."""
