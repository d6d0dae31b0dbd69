INSERT INTO registration_claims (regency, number, community_id, sequence)
VALUES (?1, ?2, ?3, ?4)
