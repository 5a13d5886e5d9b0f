// An API error shown beside the field it names: the API's words, without
// the field's name in front when it starts with it (`spec.key: is not PEM
// ...` beside the key says `is not PEM ...`).

import { ApiError } from "./api";

export function besideField(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.field && text.startsWith(`${error.field}: `)) {
    return text.slice(error.field.length + 2);
  }
  return text;
}
