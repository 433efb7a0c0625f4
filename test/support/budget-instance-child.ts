/**
 * One Berth instance of the budget tests as a process of its own, so that it can be killed with
 * SIGKILL: `node --import tsx test/support/budget-instance-child.ts`, its options as JSON in
 * BUDGET_INSTANCE and BUDGET_CALLERS callers. Each caller calls in a loop until "stop" arrives on
 * stdin; every call's outcome is a JSON line on stdout, then "done" once the instance has closed.
 */
import { createInterface } from "node:readline";
import { type BudgetInstanceOptions, startBudgetInstance } from "./budget-instance.js";

const options = JSON.parse(process.env.BUDGET_INSTANCE ?? "{}") as BudgetInstanceOptions;
const callers = Number(process.env.BUDGET_CALLERS ?? "20");
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const instance = startBudgetInstance(options);
await instance.budget.ready();
let stopping = false;
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "stop") stopping = true;
});
say({ event: "ready", pid: process.pid });
await Promise.all(
  Array.from({ length: callers }, async () => {
    while (!stopping) say({ event: "call", ...(await instance.call()) });
  }),
);
await instance.close();
say({ event: "done" });
process.exit(0);
