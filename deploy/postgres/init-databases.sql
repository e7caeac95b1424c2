-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
-- one database per service that owns data. `python -m shared.devtools prepare` (the compose
-- `migrate` step) creates any that are missing too, then runs each service's migrations.
CREATE DATABASE licensing_orgs;
CREATE DATABASE licensing_identity;
CREATE DATABASE licensing_entitlements;
CREATE DATABASE licensing_transfers;
CREATE DATABASE licensing_audit;
CREATE DATABASE licensing_notify;
CREATE DATABASE licensing_devices;
CREATE DATABASE licensing_billing;
