DROP INDEX plans_by_name;
