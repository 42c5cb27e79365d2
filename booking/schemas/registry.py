from marshmallow import Schema, fields

from booking.schemas.common import LocalDateTime


class RegistryFactsSchema(Schema):
    """What Enhetsregisteret says about an organisation number, from the copy last imported."""

    org_number = fields.String(
        required=True, metadata={"description": "organisasjonsnummer (9 digits, mod-11 check digit)"}
    )
    name = fields.String(required=True, metadata={"description": "The registered name (navn)"})
    form_code = fields.String(
        required=True, metadata={"description": "Organisation form code, e.g. FLI (organisasjonsform.kode)"}
    )
    form_description = fields.String(
        required=True, metadata={"description": "Organisation form in words (organisasjonsform.beskrivelse)"}
    )
    municipality_number = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Municipality of the business address (forretningsadresse.kommunenummer)"},
    )
    municipality = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Its name (forretningsadresse.kommune)"},
    )
    local = fields.Boolean(
        required=True,
        metadata={"description": "The business address is in this service's municipality"},
    )
    registered_in_frivillighetsregisteret = fields.Boolean(required=True)
    bankrupt = fields.Boolean(required=True, metadata={"description": "konkurs"})
    under_liquidation = fields.Boolean(
        required=True,
        metadata={"description": "underAvvikling or underTvangsavviklingEllerTvangsopplosning"},
    )
    deleted_on = fields.Date(
        required=True, allow_none=True, metadata={"description": "slettedato: deleted from the register"}
    )
    imported_at = LocalDateTime(
        required=True, metadata={"description": "When this copy of the register was imported"}
    )
