"""Export: OTel providers, the OTLP/JSON spool, OTLP-with-spool failover, and replay."""
