/** The audit-trail scenarios on the embedded SQLite store (the default). */
import { auditScenarios } from "./_audit_scenarios.ts";

auditScenarios("sqlite");
