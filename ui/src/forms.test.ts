import { expect, it } from "vitest";

import { ApiError } from "./api";
import { besideField } from "./forms";

it("drops the field's name in front of the API's words, and nothing else", () => {
  expect(besideField(new ApiError(422, "spec.key: is not PEM", "spec.key"))).toBe("is not PEM");
  expect(besideField(new ApiError(422, "must be at least 8 characters", "password"))).toBe("must be at least 8 characters");
  expect(besideField(new ApiError(409, "spec.key: taken"))).toBe("spec.key: taken");
  expect(besideField(new Error("Failed to fetch"))).toBe("Failed to fetch");
});
