import { afterAll } from "vitest";
import { dropAllTestStores } from "./test-store.js";

// The postgres project's setup file: the databases a test file made and did not drop (a Berth kept
// for a restart, a failed start) go when the file ends.
afterAll(dropAllTestStores);
