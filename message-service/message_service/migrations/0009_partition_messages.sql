-- messages.messages partitioned by room: HASH (room_id) over 16 partitions, declaratively.
-- Every primary and unique key includes room_id and nothing refers to a message across rooms
-- by a foreign key, so the table can also be distributed by room_id with Citus as it is
-- (docs/scaling.md, "Partitioned messages").
--
-- The table is rebuilt in this migration's transaction: its rows are copied into the new
-- partitioned table, which then takes the old one's name, indexes, triggers and grants
-- (migrate grants the schema again after every run). Writers wait for the copy: about a
-- second per 100,000 messages (docs/scaling.md has the measured figure).
--
-- Keys: the primary key becomes (room_id, id). A message id is a random UUIDv4, unique in
-- practice everywhere; lookups by id alone (edits, reactions, reports) use the partitioned,
-- non-unique index messages_id, one probe per partition. (room_id, seq) stays unique, which
-- is what keeps seqs gap-free and unique per room; idempotency is messages.send_keys' own
-- primary key (sender_id, client_msg_id), unchanged.

CREATE TABLE messages.messages_partitioned (
    LIKE messages.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED
        INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS
) PARTITION BY HASH (room_id);

DO $$
DECLARE
    i int;
    columns text;
    found record;
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE messages.%I PARTITION OF messages.messages_partitioned'
            ' FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            'messages_p' || lpad(i::text, 2, '0'), i);
    END LOOP;

    -- Every stored column but generated ones, which the new table computes itself.
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
    FROM pg_attribute
    WHERE attrelid = 'messages.messages'::regclass AND attnum > 0 AND NOT attisdropped
        AND attgenerated = '';
    EXECUTE format(
        'INSERT INTO messages.messages_partitioned (%s) SELECT %s FROM messages.messages',
        columns, columns);

    -- The old table's other indexes (added by any earlier migration), on the new table.
    -- A unique index without room_id cannot be kept per partition: refused, not dropped.
    FOR found IN
        SELECT c.relname AS name, pg_get_indexdef(x.indexrelid) AS def, x.indisunique AS uniq,
            x.indisprimary AS pkey, EXISTS (
                SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
            ) AS constrained
        FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = 'messages.messages'::regclass
    LOOP
        IF found.pkey OR found.constrained THEN
            CONTINUE;  -- the keys are declared below
        END IF;
        IF found.uniq AND found.def NOT LIKE '%room_id%' THEN
            RAISE EXCEPTION 'unique index % lacks room_id: it cannot hold on partitions', found.name;
        END IF;
        EXECUTE replace(
            replace(found.def, ' ON messages.messages ', ' ON messages.messages_partitioned '),
            'INDEX ' || quote_ident(found.name) || ' ON',
            'INDEX ' || quote_ident(found.name || '_partitioned') || ' ON');
    END LOOP;

    -- The old table's row triggers, on the new table (partitioned tables run them per row).
    FOR found IN
        SELECT t.tgname AS name, pg_get_triggerdef(t.oid) AS def
        FROM pg_trigger t
        WHERE t.tgrelid = 'messages.messages'::regclass AND NOT t.tgisinternal
    LOOP
        EXECUTE replace(found.def, ' ON messages.messages ', ' ON messages.messages_partitioned ');
    END LOOP;
END $$;

ALTER TABLE messages.messages_partitioned
    ADD CONSTRAINT messages_partitioned_pkey PRIMARY KEY (room_id, id),
    ADD CONSTRAINT messages_partitioned_room_seq UNIQUE (room_id, seq);
CREATE INDEX messages_id ON messages.messages_partitioned (id);

DROP TABLE messages.messages;
ALTER TABLE messages.messages_partitioned RENAME TO messages;
ALTER TABLE messages.messages RENAME CONSTRAINT messages_partitioned_pkey TO messages_pkey;
ALTER TABLE messages.messages RENAME CONSTRAINT messages_partitioned_room_seq TO messages_room_seq;

-- The copied indexes take back their names.
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.relname AS name
        FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = 'messages.messages'::regclass AND c.relname LIKE '%\_partitioned'
    LOOP
        EXECUTE format('ALTER INDEX messages.%I RENAME TO %I',
            found.name, left(found.name, length(found.name) - length('_partitioned')));
    END LOOP;
END $$;

ANALYZE messages.messages;
