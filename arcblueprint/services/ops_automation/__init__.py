"""Operations automation: periodic jobs, event-triggered workflows, alarm response and audit on the platform bus."""
