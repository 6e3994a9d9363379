// @ts-check
// The shapes the API sends, as JSDoc types for `tsc --noEmit` (web/package.json). Nothing runs here.

/**
 * @typedef {object} User
 * @property {string} name
 * @property {"admin" | "viewer"} role
 * @property {string[]} cameras
 */

/**
 * GET /api/auth/state: 200 signed in or not.
 * @typedef {object} AuthState
 * @property {boolean} setup_needed  No user exists yet: first-run setup (with the printed code).
 * @property {User | null} user  Null when signed out.
 * @property {string | null} csrf_token
 */

/**
 * POST /api/auth/login and /api/auth/setup.
 * @typedef {object} SignedIn
 * @property {string} csrf_token
 * @property {User} user
 */

/**
 * @typedef {object} FieldError
 * @property {string} path  e.g. "actions[0].notifier"
 * @property {string} message
 */

/**
 * One entry of GET /api/automations/types.
 * @typedef {object} AutomationType
 * @property {"trigger" | "condition" | "action"} kind
 * @property {string} name  The `type:` written in YAML.
 * @property {string} title  Plain-language name ("Motion detected").
 * @property {string} icon
 * @property {string} description
 * @property {string} plugin
 * @property {Record<string, string> | null} placeholders  Triggers: what they fill; null: not declared.
 * @property {JsonSchema} schema
 */

/**
 * @typedef {object} AutomationTypes
 * @property {AutomationType[]} types
 * @property {Record<string, string>} common_placeholders  What every run fills.
 */

/**
 * A JSON schema as pydantic writes it (only what the forms read).
 * @typedef {object} JsonSchema
 * @property {string} [type]
 * @property {string} [title]
 * @property {string} [description]
 * @property {string} [format]  "template" marks a text with {placeholders}.
 * @property {unknown} [default]
 * @property {unknown[]} [enum]
 * @property {unknown} [const]
 * @property {Record<string, JsonSchema>} [properties]
 * @property {string[]} [required]
 * @property {JsonSchema} [items]
 * @property {JsonSchema[]} [anyOf]
 * @property {JsonSchema[]} [oneOf]
 * @property {string} [$ref]
 * @property {Record<string, JsonSchema>} [$defs]
 * @property {number} [minimum]
 * @property {number} [maximum]
 * @property {number} [exclusiveMinimum]
 * @property {number} [exclusiveMaximum]
 * @property {string[]} [examples]
 */

/**
 * @typedef {object} CameraChoice
 * @property {string} id
 * @property {string} name
 * @property {string[]} zones
 * @property {string[]} labels  Labels that make events on this camera.
 * @property {string[]} detector_labels  Every label its detector knows (empty when unknown).
 */

/**
 * @typedef {object} NotifierChoice
 * @property {string} id
 * @property {string} type
 * @property {boolean} running
 */

/**
 * @typedef {object} Recipe
 * @property {string} id
 * @property {string} title
 * @property {string} description
 * @property {Record<string, any>} automation  With slots (recipe_slots) for camera and notifier.
 */

/**
 * GET /api/automations/choices: what the editor's pickers offer.
 * @typedef {object} AutomationChoices
 * @property {CameraChoice[]} cameras
 * @property {NotifierChoice[]} notifiers
 * @property {string[]} modes
 * @property {Recipe[]} recipes
 * @property {{camera: string, notifier: string}} recipe_slots
 * @property {string} defined_in  The config file's name.
 */

/**
 * One automation as GET /api/automations lists it.
 * @typedef {object} Automation
 * @property {string} id
 * @property {string | null} alias
 * @property {string | null} description
 * @property {string | null} mode
 * @property {boolean} enabled
 * @property {"file" | "panel"} source  Who owns it: the config file (read-only here) or the panel.
 * @property {string | null} defined_in  The config file's name, for file-owned ones.
 * @property {"on" | "off" | "snoozed" | "invalid"} state
 * @property {number | null} snoozed_until
 * @property {number | null} last_triggered
 * @property {number} running
 * @property {number} queued
 * @property {FieldError[]} errors
 * @property {Record<string, any>} config
 */

/**
 * @typedef {object} ReloadAnswer
 * @property {string[]} added
 * @property {string[]} changed
 * @property {string[]} removed
 * @property {string[]} taken_over
 * @property {string} summary
 */

/**
 * A bus event as /api/ws sends it (only the fields the panel reads).
 * @typedef {object} HubEvent
 * @property {string} event_type
 * @property {string} [title]
 * @property {string} [body]
 * @property {string | null} [snapshot_url]
 * @property {number} [priority]
 */

export {};
