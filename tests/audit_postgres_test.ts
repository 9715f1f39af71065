/** The audit-trail scenarios with the gateway's data in PostgreSQL (`HOOP_DATABASE_URL`). */
import { auditScenarios } from "./_audit_scenarios.ts";

auditScenarios("postgres");
