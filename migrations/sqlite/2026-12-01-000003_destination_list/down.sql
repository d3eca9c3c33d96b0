DROP INDEX destinations_list_order;
