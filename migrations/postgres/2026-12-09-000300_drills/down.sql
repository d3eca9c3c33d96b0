DROP TABLE drills;
DROP TABLE plan_drills;
DROP TABLE run_manifest_parts;
DROP TABLE run_manifests;
