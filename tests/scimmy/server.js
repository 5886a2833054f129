// A second, independent SCIM 2.0 service provider for the SCIM connector's
// tests: SCIMMY (the npm packages `scimmy` and `scimmy-routers`) over an
// in-memory store of Users and Groups. SCIMMY parses and formats the
// protocol (filters, PATCH, sorting, paging, /Schemas, /ResourceTypes,
// /ServiceProviderConfig); this file only keeps the resources.
//
//   node server.js PORT TOKEN     serves http://127.0.0.1:PORT/scim/v2
//
// Installed by scripts/servers/scimmy.sh; started per test by
// tests/support/scimmy.rs.
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import {randomUUID} from "node:crypto";

const [port, token] = process.argv.slice(2);
if (!port || !token) {
    console.error("usage: node server.js PORT TOKEN");
    process.exit(2);
}

// Creation order, so that an unsorted listing pages stably.
const stores = {Users: new Map(), Groups: new Map()};
const unique = {Users: "userName", Groups: "displayName"};
let clock = 0;

// Timestamps strictly increase, so that `meta.lastModified gt T` sees
// every later change even within one millisecond.
function now() {
    clock = Math.max(clock + 1, Date.now());
    return new Date(clock);
}

// What SCIMMY's Filter.match reads: it is a helper for in-memory data, and
// departs from RFC 7644 §3.4.2.2 in two ways this view makes up for. It
// looks an extension attribute's full name ("urn:…:2.0:User:department")
// up as a top-level key, so the view flattens extensions into such keys;
// and it throws on a complex attribute a resource lacks (an `emails[…]`
// filter over a user with no emails), so the view gives absent complex
// attributes an empty value. (A third departure cannot be made up for
// here: its parser pushes `not` into the last comparison of what it
// negates, so `not (a eq 1 and b pr)` becomes `not (a eq 1) and not (b pr)`
// and `not (emails[type eq "work"])` becomes `emails[type eq "work"]`;
// docs/connectors/scim.md.)
const COMPLEX = {
    Users: {name: {}, emails: [], phoneNumbers: [], ims: [], photos: [], addresses: [],
        groups: [], entitlements: [], roles: [], x509Certificates: [], meta: {},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": {}},
    Groups: {members: [], meta: {}},
};

function matchable(endpoint, resource) {
    const view = {...COMPLEX[endpoint], ...resource};
    for (const [key, value] of Object.entries(resource)) {
        if (key.startsWith("urn:") && value && typeof value === "object" && !Array.isArray(value)) {
            for (const [name, inner] of Object.entries(value)) view[`${key}:${name}`] = inner;
        }
    }
    return view;
}

function notFound(id) {
    return new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
}

function declare(Resource, endpoint) {
    const store = stores[endpoint];
    const key = unique[endpoint];
    SCIMMY.Resources.declare(Resource)
        .egress((resource) => {
            if (resource.id) {
                const found = store.get(resource.id);
                if (!found) throw notFound(resource.id);
                return found;
            }
            const all = [...store.values()];
            if (!resource.filter) return all;
            return all.filter((r) => resource.filter.match([matchable(endpoint, r)]).length > 0);
        })
        .ingress((resource, instance) => {
            const id = resource.id ?? randomUUID();
            const existing = store.get(id);
            if (resource.id && !existing) throw notFound(resource.id);
            const name = String(instance[key] ?? "").toLowerCase();
            for (const other of store.values()) {
                if (other.id !== id && String(other[key] ?? "").toLowerCase() === name) {
                    throw new SCIMMY.Types.Error(409, "uniqueness", `${key} ${instance[key]} is taken`);
                }
            }
            const at = now();
            const stored = {
                ...JSON.parse(JSON.stringify(instance)),
                id,
                meta: {
                    resourceType: Resource.schema.definition.name,
                    created: existing?.meta.created ?? at,
                    lastModified: at,
                },
            };
            store.set(id, stored);
            return stored;
        })
        .degress((resource) => {
            if (!store.delete(resource.id)) throw notFound(resource.id);
        });
}

// Users carry the enterprise extension (RFC 7643 §4.3), as most services do.
declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false), "Users");
declare(SCIMMY.Resources.Group, "Groups");

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) {
            throw new Error("Authorization failed");
        }
        return "provisio-tests";
    },
}));
app.listen(Number(port), "127.0.0.1", () => console.log(`SCIMMY on http://127.0.0.1:${port}/scim/v2`));
