"""Export: OTel providers, the OTLP/JSON spool as a write-ahead log, the shipper to OTLP, replay."""
