-- 008: an index for delivery retention: done webhook deliveries (delivered, or given up) are
-- deleted once they finished longer ago than the hub's retention (src/app/hub.ts retainOnce).
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE state <> 'pending';
