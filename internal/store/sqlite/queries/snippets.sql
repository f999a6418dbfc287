-- name: InsertSnippet :one
-- Returns no row when the guild already has a snippet of that name (any letter case): the
-- unique key decides, so two members creating one name at once cannot both succeed.
INSERT INTO snippets (guild_id, name, name_key, content, author_id, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
ON CONFLICT (guild_id, name_key) DO NOTHING
RETURNING *;

-- name: GetSnippet :one
SELECT * FROM snippets WHERE guild_id = ?1 AND name_key = ?2;

-- name: LockSnippet :one
-- A plain read: SQLite has no row locks and needs none, since its write transactions begin
-- IMMEDIATE and hold the whole database (PostgreSQL takes the row lock here).
SELECT * FROM snippets WHERE guild_id = ?1 AND name_key = ?2;

-- name: UpdateSnippetContent :exec
UPDATE snippets SET content = ?2, updated_at = ?3 WHERE id = ?1;

-- name: RenameSnippet :exec
UPDATE snippets SET name = ?2, name_key = ?3, updated_at = ?4 WHERE id = ?1;

-- name: SetSnippetLocked :exec
UPDATE snippets SET locked = ?2, updated_at = ?3 WHERE id = ?1;

-- name: DeleteSnippet :exec
DELETE FROM snippets WHERE id = ?1;

-- name: UseSnippet :one
-- One statement, so concurrent uses all count without a transaction of their own.
UPDATE snippets SET uses = uses + 1, last_used_at = ?3
WHERE guild_id = ?1 AND name_key = ?2
RETURNING *;

-- name: ListSnippets :many
SELECT * FROM snippets WHERE guild_id = ?1 ORDER BY name_key LIMIT ?2 OFFSET ?3;

-- name: CountSnippets :one
SELECT count(*) FROM snippets WHERE guild_id = ?1;

-- name: SearchSnippets :many
-- The snippets whose name or content holds text, by name.
-- text is lower-case; SQLite's lower() folds ASCII letters only (PostgreSQL's folds all).
SELECT * FROM snippets
WHERE guild_id = sqlc.arg(guild_id) AND (instr(lower(name_key), sqlc.arg(text)) > 0 OR instr(lower(content), sqlc.arg(text)) > 0)
ORDER BY name_key
LIMIT sqlc.arg(max_rows) OFFSET sqlc.arg(skip);

-- name: CountSearchSnippets :one
SELECT count(*) FROM snippets
WHERE guild_id = sqlc.arg(guild_id) AND (instr(lower(name_key), sqlc.arg(text)) > 0 OR instr(lower(content), sqlc.arg(text)) > 0);

-- name: SnippetNamesLike :many
-- The names an autocomplete offers: those holding text (lower-case), the most used first.
SELECT name FROM snippets WHERE guild_id = sqlc.arg(guild_id) AND instr(lower(name_key), sqlc.arg(text)) > 0
ORDER BY uses DESC, name_key LIMIT sqlc.arg(max_rows);

-- name: InsertSnippetEvent :exec
INSERT INTO snippet_events (guild_id, snippet_id, actor_id, kind, name, old_value, new_value, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);

-- name: SnippetEvents :many
-- A snippet's history, oldest first.
SELECT * FROM snippet_events WHERE snippet_id = ?1 ORDER BY id LIMIT ?2;
