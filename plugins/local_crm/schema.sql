-- The local CRM's schema.  Run on every first open, so every statement is idempotent.

CREATE TABLE IF NOT EXISTS associates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    mobile TEXT
);

CREATE TABLE IF NOT EXISTS companies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT,
    business TEXT,
    our_contact INTEGER REFERENCES associates (id),
    our_service_contact INTEGER REFERENCES associates (id),
    fields TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    mobile TEXT,
    language TEXT,
    birth_date TEXT,
    timezone TEXT,
    email_blocked INTEGER NOT NULL DEFAULT 0,
    company_id INTEGER REFERENCES companies (id),
    fields TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS persons_email ON persons (email COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS persons_company ON persons (company_id);

CREATE TABLE IF NOT EXISTS field_definitions (
    key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'datetime', 'bool', 'list')),
    entity TEXT NOT NULL DEFAULT 'person' CHECK (entity IN ('person', 'company')),
    choices TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS selections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS selection_members (
    selection_id INTEGER NOT NULL REFERENCES selections (id),
    person_id INTEGER NOT NULL REFERENCES persons (id),
    PRIMARY KEY (selection_id, person_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS selection_members_person ON selection_members (person_id);

CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS project_members (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    person_id INTEGER NOT NULL REFERENCES persons (id),
    member_type TEXT,
    status TEXT,
    PRIMARY KEY (project_id, person_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS project_members_person ON project_members (person_id);

CREATE TABLE IF NOT EXISTS sales (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES persons (id),
    company_id INTEGER REFERENCES companies (id),
    title TEXT NOT NULL,
    sale_type TEXT,
    amount REAL NOT NULL DEFAULT 0,
    stage TEXT,
    probability INTEGER,
    expected_date TEXT,
    owner INTEGER REFERENCES associates (id),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sales_person ON sales (person_id);

CREATE TABLE IF NOT EXISTS follow_ups (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES persons (id),
    title TEXT NOT NULL,
    type TEXT NOT NULL,
    starts_at TEXT,
    ends_at TEXT,
    owner INTEGER REFERENCES associates (id),
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS follow_ups_person ON follow_ups (person_id);
CREATE INDEX IF NOT EXISTS follow_ups_owner ON follow_ups (owner, starts_at);

CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES persons (id),
    title TEXT NOT NULL,
    category TEXT,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    owner INTEGER REFERENCES associates (id),
    first_message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_person ON requests (person_id);

-- Request categories, each with the associate new requests of the category go to.
CREATE TABLE IF NOT EXISTS request_categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    default_owner INTEGER REFERENCES associates (id)
);

CREATE TABLE IF NOT EXISTS consents (
    person_id INTEGER NOT NULL REFERENCES persons (id),
    purpose TEXT NOT NULL,
    granted INTEGER NOT NULL,
    legal_basis TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (person_id, purpose)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS subscriptions (
    person_id INTEGER NOT NULL REFERENCES persons (id),
    name TEXT NOT NULL,
    subscribed INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (person_id, name)
) WITHOUT ROWID;

-- Idempotency ledger: a write's key and the JSON of what it returned the first time.
CREATE TABLE IF NOT EXISTS applied_keys (
    key TEXT PRIMARY KEY,
    result TEXT
);
