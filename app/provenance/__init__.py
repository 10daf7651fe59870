"""W3C PROV export: a version's upstream lineage, with its training runs, as PROV-JSON.

It reads lineage and training runs alike, so it sits above both."""
