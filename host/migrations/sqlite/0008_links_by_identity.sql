-- A target's links in identity order (reconciliation loads them a page at
-- a time; the API lists them): without this index every page sorted all
-- of the target's links, so loading them grew with the square of their
-- number.
CREATE INDEX account_links_identity ON account_links (target, identity, class);
