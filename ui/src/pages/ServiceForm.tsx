// The form that creates a service (`POST .../services`) or changes one
// (`PUT .../services/NAME`, which starts a rolling upgrade when the launch
// config changed): image, command, environment, ports, volumes, health
// check, placement rules, restart policy, scale and the upgrade's batches.
// The API's error is shown at the input of the field it names.

import { useId, useState, type ReactElement, type ReactNode } from "react";

import { ApiError, type Client } from "../api";
import {
  emptyPort,
  emptyRule,
  emptyVolume,
  formFieldOf,
  formOf,
  ruleHasKey,
  sameJson,
  specOf,
  validate,
  type FieldErrors,
  type FullServiceObject,
  type RuleOn,
  type ServiceForm as Form,
} from "../serviceForm";

function servicesPath(env: string): string {
  return `/v1/environments/${encodeURIComponent(env)}/services`;
}

/** An input with its label and, under it, its error. */
function Field({
  label,
  error,
  children,
  hint,
}: {
  label: string;
  error: string | undefined;
  hint?: string;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}): ReactElement {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": error !== undefined, "aria-describedby": error ? errorId : undefined })}
      {hint && <span className="hint">{hint}</span>}
      {error && (
        <span role="alert" id={errorId} className="error inline field-error">
          {error}
        </span>
      )}
    </div>
  );
}

/** An input in a row of a list, labelled for its row (`Port 2 host port`). */
function Cell({
  label,
  error,
  children,
}: {
  label: string;
  error: string | undefined;
  children: (props: { "aria-label": string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}): ReactElement {
  const id = useId();
  return (
    <span className="cell">
      {children({ "aria-label": label, "aria-invalid": error !== undefined, "aria-describedby": error ? id : undefined })}
      {error && (
        <span role="alert" id={id} className="error inline field-error">
          {error}
        </span>
      )}
    </span>
  );
}

function without<T>(rows: readonly T[], at: number): T[] {
  return rows.filter((_, i) => i !== at);
}

function replaced<T>(rows: readonly T[], at: number, row: T): T[] {
  return rows.map((r, i) => (i === at ? row : r));
}

const RULE_TARGETS: [RuleOn, string][] = [
  ["node_label", "node label"],
  ["node_name", "node name"],
  ["node_role", "node role"],
  ["container_label", "container label"],
  ["instance", "instance"],
];

export function ServiceForm({
  client,
  env,
  service,
  onDone,
  onCancel,
}: {
  client: Client;
  env: string;
  /** The service to change; none to create one. */
  service?: FullServiceObject;
  onDone: (name: string) => void;
  onCancel: () => void;
}): ReactElement {
  // The spec the form was opened with: a change made meanwhile by someone
  // else is not overwritten without notice.
  const [opened] = useState(service);
  const [form, setForm] = useState<Form>(() => formOf(service?.meta.name ?? "", service?.spec));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const creating = opened === undefined;
  const title = creating ? "Create service" : `Edit service ${opened.meta.name}`;

  function set<K extends keyof Form>(key: K, value: Form[K]): void {
    setForm((f) => ({ ...f, [key]: value }));
  }

  async function submit(): Promise<void> {
    const found = validate(form, creating);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    const { spec, rows } = specOf(form, opened?.spec);
    try {
      if (creating) {
        await client.request<unknown>("POST", servicesPath(env), { kind: "Service", meta: { name: form.name }, spec });
      } else {
        const path = `${servicesPath(env)}/${encodeURIComponent(opened.meta.name)}`;
        // The revision changes with every status report: read it just
        // before writing, and try again when a report came in between.
        for (let attempt = 0; ; attempt++) {
          const now = await client.request<FullServiceObject>("GET", path);
          if (!sameJson(now.spec, opened.spec)) {
            setErrors({ form: "the service was changed since this form was opened: cancel and edit it again" });
            return;
          }
          try {
            await client.request<unknown>("PUT", path, {
              kind: "Service",
              meta: { name: now.meta.name, revision: now.meta.revision, labels: now.meta.labels },
              spec,
            });
            break;
          } catch (e) {
            if (!(e instanceof ApiError && e.status === 409 && attempt < 3)) throw e;
          }
        }
      }
      onDone(form.name);
    } catch (e) {
      if (e instanceof ApiError) {
        const field = e.status === 409 && creating ? "name" : formFieldOf(e.field, rows);
        setErrors({ [field]: e.message });
      } else {
        setErrors({ form: e instanceof Error ? e.message : String(e) });
      }
    } finally {
      setBusy(false);
    }
  }

  const text = (key: TextKey, label: string, hint?: string): ReactElement => (
    <Field label={label} error={errors[fieldKey(key)]} hint={hint}>
      {(p) => (
        <input
          {...p}
          value={form[key]}
          onChange={(e) => {
            set(key, e.target.value);
          }}
        />
      )}
    </Field>
  );

  return (
    <form
      aria-label={title}
      className="panel service-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2>{title}</h2>
      {errors.form && (
        <p role="alert" className="error">
          {errors.form}
        </p>
      )}
      <fieldset>
        <legend>Container</legend>
        {creating && text("name", "Name", "lowercase letters, digits and '-'")}
        {text("image", "Image")}
        {text("command", "Command", "arguments to the image's entrypoint, quoted as in a shell; empty keeps the image's")}
        <Field label="Restart policy" error={errors.restart}>
          {(p) => (
            <select
              {...p}
              value={form.restart}
              onChange={(e) => {
                set("restart", e.target.value);
              }}
            >
              <option value="always">always</option>
              <option value="on-failure">on-failure</option>
              <option value="never">never</option>
            </select>
          )}
        </Field>
        {opened?.spec.mode !== "global" && text("scale", "Scale")}
      </fieldset>

      <fieldset>
        <legend>Environment</legend>
        {errors.env && (
          <p role="alert" className="error inline">
            {errors.env}
          </p>
        )}
        {form.env.map((row, i) => (
          <div className="row" key={i}>
            <Cell label={`Variable ${i + 1} name`} error={errors[`env.${i}.key`]}>
              {(p) => (
                <input
                  {...p}
                  value={row.key}
                  onChange={(e) => {
                    set("env", replaced(form.env, i, { ...row, key: e.target.value }));
                  }}
                />
              )}
            </Cell>
            =
            <Cell label={`Variable ${i + 1} value`} error={undefined}>
              {(p) => (
                <input
                  {...p}
                  value={row.value}
                  onChange={(e) => {
                    set("env", replaced(form.env, i, { ...row, value: e.target.value }));
                  }}
                />
              )}
            </Cell>
            <button type="button" aria-label={`Remove variable ${i + 1}`} onClick={() => { set("env", without(form.env, i)); }}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => { set("env", [...form.env, { key: "", value: "" }]); }}>
          Add variable
        </button>
      </fieldset>

      <fieldset>
        <legend>Ports</legend>
        {errors.ports && (
          <p role="alert" className="error inline">
            {errors.ports}
          </p>
        )}
        {form.ports.map((row, i) => (
          <div className="row" key={i}>
            <Cell label={`Port ${i + 1} host port`} error={errors[`ports.${i}.host`]}>
              {(p) => (
                <input
                  {...p}
                  className="short"
                  placeholder="host (none)"
                  inputMode="numeric"
                  value={row.host}
                  onChange={(e) => {
                    set("ports", replaced(form.ports, i, { ...row, host: e.target.value }));
                  }}
                />
              )}
            </Cell>
            :
            <Cell label={`Port ${i + 1} container port`} error={errors[`ports.${i}.container`]}>
              {(p) => (
                <input
                  {...p}
                  className="short"
                  placeholder="container"
                  inputMode="numeric"
                  value={row.container}
                  onChange={(e) => {
                    set("ports", replaced(form.ports, i, { ...row, container: e.target.value }));
                  }}
                />
              )}
            </Cell>
            <Cell label={`Port ${i + 1} protocol`} error={errors[`ports.${i}.protocol`]}>
              {(p) => (
                <select
                  {...p}
                  value={row.protocol}
                  onChange={(e) => {
                    set("ports", replaced(form.ports, i, { ...row, protocol: e.target.value === "udp" ? "udp" : "tcp" }));
                  }}
                >
                  <option value="tcp">tcp</option>
                  <option value="udp">udp</option>
                </select>
              )}
            </Cell>
            <button type="button" aria-label={`Remove port ${i + 1}`} onClick={() => { set("ports", without(form.ports, i)); }}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => { set("ports", [...form.ports, emptyPort]); }}>
          Add port
        </button>
      </fieldset>

      <fieldset>
        <legend>Volumes</legend>
        {errors.volumes && (
          <p role="alert" className="error inline">
            {errors.volumes}
          </p>
        )}
        {form.volumes.map((row, i) => (
          <div className="row" key={i}>
            <Cell label={`Volume ${i + 1} kind`} error={undefined}>
              {(p) => (
                <select
                  {...p}
                  value={row.kind}
                  onChange={(e) => {
                    const kind = e.target.value === "bind" ? "bind" : e.target.value === "tmpfs" ? "tmpfs" : "volume";
                    set("volumes", replaced(form.volumes, i, { ...row, kind }));
                  }}
                >
                  <option value="volume">volume</option>
                  <option value="bind">bind</option>
                  <option value="tmpfs">tmpfs</option>
                </select>
              )}
            </Cell>
            <Cell label={`Volume ${i + 1} source`} error={errors[`volumes.${i}.source`]}>
              {(p) => (
                <input
                  {...p}
                  placeholder={row.kind === "bind" ? "host path" : "volume name"}
                  disabled={row.kind === "tmpfs"}
                  value={row.source}
                  onChange={(e) => {
                    set("volumes", replaced(form.volumes, i, { ...row, source: e.target.value }));
                  }}
                />
              )}
            </Cell>
            <Cell label={`Volume ${i + 1} path in the container`} error={errors[`volumes.${i}.target`]}>
              {(p) => (
                <input
                  {...p}
                  placeholder="/path"
                  value={row.target}
                  onChange={(e) => {
                    set("volumes", replaced(form.volumes, i, { ...row, target: e.target.value }));
                  }}
                />
              )}
            </Cell>
            <label>
              <input
                type="checkbox"
                checked={row.readOnly}
                onChange={(e) => {
                  set("volumes", replaced(form.volumes, i, { ...row, readOnly: e.target.checked }));
                }}
              />{" "}
              read-only
            </label>
            <button type="button" aria-label={`Remove volume ${i + 1}`} onClick={() => { set("volumes", without(form.volumes, i)); }}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => { set("volumes", [...form.volumes, emptyVolume]); }}>
          Add volume
        </button>
      </fieldset>

      <fieldset>
        <legend>Health check</legend>
        <Field label="Probe" error={errors["health.probe"]}>
          {(p) => (
            <select
              {...p}
              value={form.probe}
              onChange={(e) => {
                const v = e.target.value;
                set("probe", v === "http" || v === "tcp" || v === "command" ? v : "none");
              }}
            >
              <option value="none">none</option>
              <option value="command">command</option>
              <option value="http">HTTP</option>
              <option value="tcp">TCP</option>
            </select>
          )}
        </Field>
        {(form.probe === "http" || form.probe === "tcp") && text("probePort", "Probe port")}
        {form.probe === "http" && text("probeRequest", "Request", "GET /path, or a whole request line")}
        {form.probe === "command" && text("probeCommand", "Probe command", "run with sh -c; exit code 0 is healthy")}
        {form.probe !== "none" && (
          <div className="row">
            {text("interval", "Interval (s)")}
            {text("timeout", "Timeout (s)")}
            {text("startPeriod", "Start period (s)")}
            {text("healthyThreshold", "Healthy after")}
            {text("unhealthyThreshold", "Unhealthy after")}
          </div>
        )}
      </fieldset>

      <fieldset>
        <legend>Placement rules</legend>
        {errors.rules && (
          <p role="alert" className="error inline">
            {errors.rules}
          </p>
        )}
        {form.rules.map((row, i) => (
          <div className="row" key={i}>
            <Cell label={`Rule ${i + 1} target`} error={undefined}>
              {(p) => (
                <select
                  {...p}
                  value={row.on}
                  onChange={(e) => {
                    const on = RULE_TARGETS.find(([v]) => v === e.target.value)?.[0] ?? "node_label";
                    set("rules", replaced(form.rules, i, { ...row, on }));
                  }}
                >
                  {RULE_TARGETS.map(([v, label]) => (
                    <option key={v} value={v}>
                      {label}
                    </option>
                  ))}
                </select>
              )}
            </Cell>
            {ruleHasKey(row.on) && (
              <Cell label={`Rule ${i + 1} key`} error={errors[`rules.${i}.key`]}>
                {(p) => (
                  <input
                    {...p}
                    placeholder="key"
                    value={row.key}
                    onChange={(e) => {
                      set("rules", replaced(form.rules, i, { ...row, key: e.target.value }));
                    }}
                  />
                )}
              </Cell>
            )}
            <Cell label={`Rule ${i + 1} operator`} error={undefined}>
              {(p) => (
                <select
                  {...p}
                  value={row.equal ? "==" : "!="}
                  onChange={(e) => {
                    set("rules", replaced(form.rules, i, { ...row, equal: e.target.value === "==" }));
                  }}
                >
                  <option value="==">==</option>
                  <option value="!=">!=</option>
                </select>
              )}
            </Cell>
            <Cell label={`Rule ${i + 1} value`} error={errors[`rules.${i}.value`]}>
              {(p) => (
                <input
                  {...p}
                  placeholder="value"
                  value={row.value}
                  onChange={(e) => {
                    set("rules", replaced(form.rules, i, { ...row, value: e.target.value }));
                  }}
                />
              )}
            </Cell>
            <label>
              <input
                type="checkbox"
                checked={row.soft}
                onChange={(e) => {
                  set("rules", replaced(form.rules, i, { ...row, soft: e.target.checked }));
                }}
              />{" "}
              soft
            </label>
            <button type="button" aria-label={`Remove rule ${i + 1}`} onClick={() => { set("rules", without(form.rules, i)); }}>
              ×
            </button>
          </div>
        ))}
        <button type="button" onClick={() => { set("rules", [...form.rules, emptyRule]); }}>
          Add rule
        </button>
      </fieldset>

      <fieldset>
        <legend>Upgrades</legend>
        <div className="row">
          <Field label="Batch size" error={errors["update.batch_size"]}>
            {(p) => (
              <input
                {...p}
                value={form.batchSize}
                onChange={(e) => {
                  set("batchSize", e.target.value);
                }}
              />
            )}
          </Field>
          <Field label="Wait between batches (s)" error={errors["update.interval"]}>
            {(p) => (
              <input
                {...p}
                value={form.batchInterval}
                onChange={(e) => {
                  set("batchInterval", e.target.value);
                }}
              />
            )}
          </Field>
          <Field label="Order" error={undefined}>
            {(p) => (
              <select
                {...p}
                value={form.order}
                onChange={(e) => {
                  set("order", e.target.value === "start-first" ? "start-first" : "stop-first");
                }}
              >
                <option value="stop-first">stop first</option>
                <option value="start-first">start first</option>
              </select>
            )}
          </Field>
          <Field label="On failure" error={undefined}>
            {(p) => (
              <select
                {...p}
                value={form.failureAction}
                onChange={(e) => {
                  const v = e.target.value;
                  set("failureAction", v === "pause" || v === "continue" ? v : "rollback");
                }}
              >
                <option value="rollback">roll back</option>
                <option value="pause">pause</option>
                <option value="continue">continue</option>
              </select>
            )}
          </Field>
        </div>
      </fieldset>

      <div className="toolbar">
        <button type="submit" disabled={busy}>
          {creating ? "Create" : "Save"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** The fields of the form that are free text. */
type TextKey = { [K in keyof Form]: string extends Form[K] ? K : never }[keyof Form];

/** The error key of a simple field of the form. */
function fieldKey(key: keyof Form): string {
  switch (key) {
    case "probePort":
      return "health.port";
    case "probeRequest":
      return "health.request";
    case "probeCommand":
      return "health.command";
    case "interval":
      return "health.interval";
    case "timeout":
      return "health.timeout";
    case "startPeriod":
      return "health.start_period";
    case "healthyThreshold":
      return "health.healthy";
    case "unhealthyThreshold":
      return "health.unhealthy";
    default:
      return key;
  }
}
