// What a stack deploy, or a catalog launch or upgrade, would do (a dry
// run) or did: the StackPlan of the API.

import type { ReactElement } from "react";

import type { StackPlan } from "../stacks";

/** What a deploy (or a catalog launch) would do, or did. */
export function PlanView({ plan }: { plan: StackPlan }): ReactElement {
  const rows: [string, string[]][] = [
    ["Create", plan.created],
    ["Change", plan.changed.map((c) => `${c.service} (${c.fields.join(", ")}${c.upgrade ? "; rolling upgrade" : ""})`)],
    ["Remove", plan.removed],
    ["Unchanged", plan.unchanged],
    ["Volumes", plan.volumes],
    ["Secrets", plan.secrets ?? []],
    ["Configs", plan.configs ?? []],
  ];
  return (
    <section aria-label={plan.applied ? "Deployed" : "Plan"} className="plan">
      <h3>{plan.applied ? `Deployed ${plan.stack}` : `Plan for ${plan.stack}`}</h3>
      <dl className="facts">
        {rows
          .filter(([, items]) => items.length > 0)
          .map(([label, items]) => (
            <div key={label} className="fact">
              <dt>{label}</dt>
              <dd>
                <ul aria-label={label}>
                  {items.map((item) => (
                    <li key={item}>{item}</li>
                  ))}
                </ul>
              </dd>
            </div>
          ))}
      </dl>
      {rows.every(([, items]) => items.length === 0) && <p className="empty">Nothing to do.</p>}
      {plan.placements.length > 0 && (
        <table aria-label="Placements">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Host</th>
            </tr>
          </thead>
          <tbody>
            {plan.placements.map((p) => (
              <tr key={p.instance}>
                <td>{p.instance}</td>
                <td className={p.node ? "" : "reason"}>{p.node || `not placed now: ${p.reason}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {plan.warnings.length > 0 && (
        <ul aria-label="Warnings" className="warnings">
          {plan.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
