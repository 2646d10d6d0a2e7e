// OrdersSchema: the PostgreSQL schema of the order path and ledger, embedded so every role creates it
// idempotently at startup (no migration tool needed on a fresh database).
//
// Owns: tables (users, accounts, holdings, orders, executions, outbox, ledger_events, ledger_offsets), the order-id
// block sequence, and the server-side functions that make the gateway's operations one statement each, so
// they are atomic without an explicit BEGIN/COMMIT round trip and pipeline well:
// - broker_place_order: insert order (idempotent by (user, client_order_id)) -> guarded pending reservation
//   (buying power / free shares checked by the UPDATE itself; the order is deleted again if refused) -> outbox;
// - broker_apply_execution: exec id dedupe -> order update -> outbox;
// plus the replace holds of cancel/replaces that need more (broker_hold_replace, broker_release_replace,
// broker_apply_replaced), appended at the end.
// Money in minor units (bigint), prices in 1e-4 units (bigint), never floating point.

/// DDL of the order path.
public enum OrdersSchema {
    /// Advisory lock key serialising concurrent schema creation by several processes (CREATE OR REPLACE
    /// FUNCTION from two sessions at once fails with "tuple concurrently updated").
    static let lockKey = "742017"

    /// Statements, run in order inside one transaction holding the advisory lock.
    public static let statements: [String] = [
        "SELECT pg_advisory_xact_lock(\(lockKey))",
        """
        CREATE TABLE IF NOT EXISTS users (
            user_id text PRIMARY KEY,
            password_hash text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())
        """,
        """
        CREATE TABLE IF NOT EXISTS accounts (
            user_id text PRIMARY KEY,
            cash bigint NOT NULL DEFAULT 0,
            reserved bigint NOT NULL DEFAULT 0,
            pending_reserved bigint NOT NULL DEFAULT 0,
            deposited bigint NOT NULL DEFAULT 0,
            withdrawn bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now())
        """,
        """
        CREATE TABLE IF NOT EXISTS holdings (
            user_id text NOT NULL,
            symbol text NOT NULL,
            qty bigint NOT NULL DEFAULT 0,
            reserved_qty bigint NOT NULL DEFAULT 0,
            pending_reserved_qty bigint NOT NULL DEFAULT 0,
            cost_basis bigint NOT NULL DEFAULT 0,
            avg_price bigint NOT NULL DEFAULT 0,
            realised_pnl bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, symbol))
        """,
        "CREATE SEQUENCE IF NOT EXISTS broker_order_blocks",
        """
        CREATE TABLE IF NOT EXISTS orders (
            order_id text PRIMARY KEY,
            user_id text NOT NULL,
            client_order_id text NOT NULL,
            symbol text NOT NULL,
            side text NOT NULL,
            type text NOT NULL,
            tif text NOT NULL,
            qty bigint NOT NULL,
            price bigint,
            reserve_price bigint NOT NULL,
            status text NOT NULL,
            filled bigint NOT NULL DEFAULT 0,
            avg_price bigint NOT NULL DEFAULT 0,
            amend_seq int NOT NULL DEFAULT 0,
            reject_reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (user_id, client_order_id))
        """,
        // No index may cover `status` (not even a partial index's predicate): every order changes status two or
        // three times, and only updates that touch no indexed column are HOT (heap-only, no index insertions), which
        // the free space left by the fill factor lets them be. Open orders are read once, at gateway start.
        "DROP INDEX IF EXISTS orders_open",
        "ALTER TABLE orders SET (fillfactor = 70)",
        "CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id, created_at DESC)",
        """
        CREATE TABLE IF NOT EXISTS executions (
            exec_id text PRIMARY KEY,
            order_id text NOT NULL,
            status text NOT NULL,
            filled bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())
        """,
        """
        CREATE TABLE IF NOT EXISTS outbox (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL UNIQUE,
            user_id text NOT NULL,
            payload text NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS ledger_events (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL UNIQUE,
            user_id text NOT NULL,
            topic text NOT NULL,
            kafka_partition int NOT NULL,
            kafka_offset bigint NOT NULL,
            outcome text NOT NULL,
            payload text NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS ledger_events_user ON ledger_events (user_id, seq)",
        """
        CREATE TABLE IF NOT EXISTS ledger_offsets (
            topic text NOT NULL,
            kafka_partition int NOT NULL,
            next_offset bigint NOT NULL,
            PRIMARY KEY (topic, kafka_partition))
        """,
        // Returns one row: outcome ('placed' | 'duplicate' | 'insufficient_funds' | 'insufficient_holdings' |
        // 'unknown_user') and, for placed/duplicate, the order's columns.
        """
        CREATE OR REPLACE FUNCTION broker_place_order(
            p_order_id text, p_user text, p_client_order_id text, p_symbol text, p_side text, p_type text,
            p_tif text, p_qty bigint, p_price bigint, p_reserve_price bigint, p_reserve_cash bigint,
            p_reserve_qty bigint, p_event_id text, p_payload text)
        RETURNS TABLE (outcome text, order_id text, status text, qty bigint, price bigint, reserve_price bigint,
                       filled bigint, avg_price bigint, symbol text, side text, type text, tif text, amend_seq int)
        LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        BEGIN
            -- The insert is the idempotency check: its arbiter is the (user, client_order_id) unique index
            -- itself (a separate lookup's cached plan could pick orders_user and read every order of the user),
            -- and a concurrent retry waits on that index entry until the first commits or rolls back. A refused
            -- order is deleted again in the same transaction (refusals are rare).
            INSERT INTO orders (order_id, user_id, client_order_id, symbol, side, type, tif, qty, price,
                                reserve_price, status)
                VALUES (p_order_id, p_user, p_client_order_id, p_symbol, p_side, p_type, p_tif, p_qty, p_price,
                        p_reserve_price, 'pending_new')
                ON CONFLICT (user_id, client_order_id) DO NOTHING;
            IF NOT FOUND THEN
                RETURN QUERY SELECT 'duplicate'::text, o.order_id, o.status, o.qty, o.price, o.reserve_price,
                    o.filled, o.avg_price, o.symbol, o.side, o.type, o.tif, o.amend_seq
                    FROM orders o WHERE o.user_id = p_user AND o.client_order_id = p_client_order_id;
                RETURN;
            END IF;
            -- Check and reserve in one guarded UPDATE: a concurrent placement of the same user waits for the
            -- row and re-checks the condition on the version it committed (READ COMMITTED re-evaluation), so two
            -- orders can never both pass against the same buying power or the same free shares.
            IF p_side = 'buy' THEN
                UPDATE accounts a SET pending_reserved = a.pending_reserved + p_reserve_cash, updated_at = now()
                    WHERE a.user_id = p_user AND a.cash - a.reserved - a.pending_reserved >= p_reserve_cash;
            ELSE
                UPDATE holdings h SET pending_reserved_qty = h.pending_reserved_qty + p_reserve_qty
                    WHERE h.user_id = p_user AND h.symbol = p_symbol
                      AND h.qty - h.reserved_qty - h.pending_reserved_qty >= p_reserve_qty;
            END IF;
            IF NOT FOUND THEN
                DELETE FROM orders o WHERE o.order_id = p_order_id;
                RETURN QUERY SELECT CASE
                        WHEN NOT EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = p_user) THEN 'unknown_user'
                        WHEN p_side = 'buy' THEN 'insufficient_funds' ELSE 'insufficient_holdings' END,
                    NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
                    NULL::text, NULL::text, NULL::text, NULL::text, NULL::int;
                RETURN;
            END IF;
            INSERT INTO outbox (event_id, user_id, payload) VALUES (p_event_id, p_user, p_payload);
            RETURN QUERY SELECT 'placed'::text, p_order_id, 'pending_new'::text, p_qty, p_price, p_reserve_price,
                0::bigint, 0::bigint, p_symbol, p_side, p_type, p_tif, 0;
        END $$
        """,
        // Returns true when applied, false for a known exec id.
        """
        CREATE OR REPLACE FUNCTION broker_apply_execution(
            p_exec_id text, p_order_id text, p_status text, p_filled bigint, p_avg_price bigint, p_new_qty bigint,
            p_new_price bigint, p_reason text, p_event_id text, p_user text, p_payload text)
        RETURNS boolean LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        BEGIN
            INSERT INTO executions (exec_id, order_id, status, filled) VALUES (p_exec_id, p_order_id, p_status, p_filled)
                ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN RETURN false; END IF;
            UPDATE orders o SET status = p_status, filled = p_filled, avg_price = p_avg_price,
                qty = coalesce(p_new_qty, o.qty), price = coalesce(p_new_price, o.price),
                reserve_price = coalesce(p_new_price, o.reserve_price),
                reject_reason = coalesce(p_reason, o.reject_reason), updated_at = now()
                WHERE o.order_id = p_order_id;
            IF p_payload IS NOT NULL THEN
                INSERT INTO outbox (event_id, user_id, payload) VALUES (p_event_id, p_user, p_payload)
                    ON CONFLICT DO NOTHING;
            END IF;
            RETURN true;
        END $$
        """,
        // Withdrawals reserve in pending like buys; deposits only go to the outbox. Returns false when the
        // withdrawal exceeds buying power.
        """
        CREATE OR REPLACE FUNCTION broker_funds(p_user text, p_withdraw bigint, p_event_id text, p_payload text)
        RETURNS boolean LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        DECLARE
            free bigint;
        BEGIN
            SELECT a.cash - a.reserved - a.pending_reserved INTO free FROM accounts a WHERE a.user_id = p_user
                FOR UPDATE;
            IF free IS NULL THEN RETURN false; END IF;
            IF p_withdraw > 0 THEN
                IF free < p_withdraw THEN RETURN false; END IF;
                UPDATE accounts a SET pending_reserved = a.pending_reserved + p_withdraw WHERE a.user_id = p_user;
            END IF;
            INSERT INTO outbox (event_id, user_id, payload) VALUES (p_event_id, p_user, p_payload);
            RETURN true;
        END $$
        """,
        // Replace holds: a cancel/replace that needs more cash (buy) or shares (sell) holds the extra in pending
        // until the exchange answers. The order row says how much and for which replace (amend_seq).
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS replace_hold bigint NOT NULL DEFAULT 0",
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS replace_hold_seq int NOT NULL DEFAULT 0",
        // Returns one row: outcome ('held' | 'insufficient_funds' | 'insufficient_holdings' | 'conflict') and,
        // when held, the replace's amend_seq. Locks the account first, then the order (as broker_release_replace).
        """
        CREATE OR REPLACE FUNCTION broker_hold_replace(p_order_id text, p_user text, p_extra bigint)
        RETURNS TABLE (outcome text, amend_seq int)
        LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        DECLARE
            o record;
            free bigint;
            seq int;
        BEGIN
            PERFORM 1 FROM accounts a WHERE a.user_id = p_user FOR UPDATE;
            IF NOT FOUND THEN RETURN QUERY SELECT 'insufficient_funds'::text, NULL::int; RETURN; END IF;
            SELECT x.side, x.symbol, x.status, x.replace_hold INTO o FROM orders x
                WHERE x.order_id = p_order_id AND x.user_id = p_user FOR UPDATE;
            IF NOT FOUND THEN RETURN QUERY SELECT 'conflict'::text, NULL::int; RETURN; END IF;
            IF o.status IN ('filled','canceled','rejected') OR o.replace_hold <> 0 OR p_extra <= 0 THEN
                RETURN QUERY SELECT 'conflict'::text, NULL::int;
                RETURN;
            END IF;
            IF o.side = 'buy' THEN
                SELECT a.cash - a.reserved - a.pending_reserved INTO free FROM accounts a WHERE a.user_id = p_user;
                IF free < p_extra THEN RETURN QUERY SELECT 'insufficient_funds'::text, NULL::int; RETURN; END IF;
                UPDATE accounts a SET pending_reserved = a.pending_reserved + p_extra, updated_at = now()
                    WHERE a.user_id = p_user;
            ELSE
                SELECT h.qty - h.reserved_qty - h.pending_reserved_qty INTO free FROM holdings h
                    WHERE h.user_id = p_user AND h.symbol = o.symbol FOR UPDATE;
                IF free IS NULL OR free < p_extra THEN
                    RETURN QUERY SELECT 'insufficient_holdings'::text, NULL::int;
                    RETURN;
                END IF;
                UPDATE holdings h SET pending_reserved_qty = h.pending_reserved_qty + p_extra
                    WHERE h.user_id = p_user AND h.symbol = o.symbol;
            END IF;
            UPDATE orders x SET amend_seq = x.amend_seq + 1, replace_hold = p_extra, replace_hold_seq = x.amend_seq + 1,
                updated_at = now() WHERE x.order_id = p_order_id RETURNING x.amend_seq INTO seq;
            RETURN QUERY SELECT 'held'::text, seq;
        END $$
        """,
        // Gives the hold back to buying power (free shares) when it belongs to replace p_seq (NULL: any).
        // Returns whether something was released.
        """
        CREATE OR REPLACE FUNCTION broker_release_replace(p_order_id text, p_seq int)
        RETURNS boolean LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        DECLARE
            u text;
            o record;
        BEGIN
            SELECT x.user_id INTO u FROM orders x WHERE x.order_id = p_order_id;
            IF NOT FOUND THEN RETURN false; END IF;
            PERFORM 1 FROM accounts a WHERE a.user_id = u FOR UPDATE;
            SELECT x.side, x.symbol, x.replace_hold, x.replace_hold_seq INTO o FROM orders x
                WHERE x.order_id = p_order_id FOR UPDATE;
            IF o.replace_hold = 0 OR (p_seq IS NOT NULL AND o.replace_hold_seq <> p_seq) THEN RETURN false; END IF;
            IF o.side = 'buy' THEN
                UPDATE accounts a SET pending_reserved = GREATEST(a.pending_reserved - o.replace_hold, 0),
                    updated_at = now() WHERE a.user_id = u;
            ELSE
                UPDATE holdings h SET pending_reserved_qty = GREATEST(h.pending_reserved_qty - o.replace_hold, 0)
                    WHERE h.user_id = u AND h.symbol = o.symbol;
            END IF;
            UPDATE orders x SET replace_hold = 0, replace_hold_seq = 0, updated_at = now()
                WHERE x.order_id = p_order_id;
            RETURN true;
        END $$
        """,
        // broker_apply_execution for the Replaced report of a replace that held an extra: the hold of replace
        // p_hold_seq stops being the gateway's in the same transaction (its ORDER_REPLACED carries it to the
        // ledger). Touches only the order row, like broker_apply_execution.
        """
        CREATE OR REPLACE FUNCTION broker_apply_replaced(
            p_hold_seq int, p_exec_id text, p_order_id text, p_status text, p_filled bigint, p_avg_price bigint,
            p_new_qty bigint, p_new_price bigint, p_reason text, p_event_id text, p_user text, p_payload text)
        RETURNS boolean LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        BEGIN
            IF NOT broker_apply_execution(p_exec_id, p_order_id, p_status, p_filled, p_avg_price, p_new_qty,
                                          p_new_price, p_reason, p_event_id, p_user, p_payload) THEN
                RETURN false;
            END IF;
            UPDATE orders x SET replace_hold = 0, replace_hold_seq = 0
                WHERE x.order_id = p_order_id AND x.replace_hold_seq = p_hold_seq;
            RETURN true;
        END $$
        """,
    ]

    /// Tables the tests drop to start from a clean database (in dependency order).
    public static let tables = ["ledger_offsets", "ledger_events", "outbox", "executions", "orders", "holdings",
                                "accounts", "users"]
}
